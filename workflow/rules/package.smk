rule package:
    input:
        metrics=per_run(rules.evaluate.output.metrics),
        models=per_run(rules.train.output.model),
        data=rules.prepare.output.data,
        code=code_files("package"),
    output:
        package=directory("models/package"),
        archive="models/package.tar.gz",
    params:
        runs=RUNS,
        metric=config["report"]["metric"],
    shell:
        "python -m stages.package --runs {params.runs} --metric {params.metric}"
        " --metrics {input.metrics} --models {input.models} --metadata {input.data}/metadata.json"
        " --out-dir {output.package} --archive {output.archive}"
