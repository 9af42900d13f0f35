rule package:
    input:
        config=layout.CONFIGS["package"],
        training=per_run(rules.train.output.training),
        evaluation=per_run(rules.evaluate.output.evaluation),
        folder_stamps=stamps_of(per_run([rules.train.output.training, rules.evaluate.output.evaluation])),
        models=per_run(rules.train.output.model),
        data=rules.prepare.output.data,
        data_stamp=stamps_of(rules.prepare.output.data),
        code=layout.code_config("package"),
    output:
        package=directory(layout.PACKAGE_DIR),
        archive=layout.ARCHIVE,
    log:
        layout.LOG["package"],
    params:
        runs=RUNS,
        runs_dir=folder_of("input", "evaluation", levels=2),
        models_dir=folder_of("input", "models", levels=2),
    shell:
        "python -m stages.package --config {input.config} --runs {params.runs}"
        " --runs-dir {params.runs_dir} --models-dir {params.models_dir}"
        " --data {input.data} --out-dir {output.package} --archive {output.archive} --log {log}"
