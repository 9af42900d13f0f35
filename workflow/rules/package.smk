rule package:
    input:
        config="configs/package.json",
        metrics=per_run(rules.evaluate.output.metrics),
        summaries=per_run(rules.train.output.summary),
        confusions=per_run(rules.evaluate.output.confusion),
        heatmaps=per_run(rules.evaluate.output.heatmap),
        models=per_run(rules.train.output.model),
        data=rules.prepare.output.data,
        code=code_files("package"),
    output:
        package=directory("models/package"),
        archive="models/package.tar.gz",
    params:
        runs=RUNS,
    shell:
        "python -m stages.package --config {input.config} --runs {params.runs}"
        " --runs-dir reports/runs --models-dir models/runs --data {input.data}"
        " --out-dir {output.package} --archive {output.archive}"
