rule package:
    input:
        config=layout.CONFIGS["package"],
        per_run=per_run([layout.run_file(key) for key in layout.PACKAGE_INPUTS]),
        models=per_run(rules.train.output.model),
        data=rules.prepare.output.data,
        code=layout.CODES["package"],
    output:
        package=directory(layout.PACKAGE_DIR),
        archive=layout.ARCHIVE,
    log:
        layout.LOG["package"],
    params:
        runs=RUNS,
        runs_dir=folder_of("input", "per_run", levels=2),
        models_dir=folder_of("input", "models", levels=2),
    shell:
        "python -m stages.package --config {input.config} --runs {params.runs}"
        " --runs-dir {params.runs_dir} --models-dir {params.models_dir}"
        " --data {input.data} --out-dir {output.package} --archive {output.archive} --log {log}"
