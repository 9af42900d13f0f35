rule report:
    input:
        config=layout.CONFIGS["report"],
        training=per_run(rules.train.output.training),
        evaluation=per_run(rules.evaluate.output.evaluation),
        folder_stamps=stamps_of(per_run([rules.train.output.training, rules.evaluate.output.evaluation])),
        data=[rules.prepare.output.samples, rules.prepare.output.balance],
        notebook=layout.NOTEBOOK,
        code=layout.code_config("report"),
    output:
        table_csv=comparison("table_csv", "comparison"),
        table_md=f"{layout.REPORT_DIR}/{layout.REPORT_FILES['table_md']}",
        replicates=f"{layout.REPORT_DIR}/{layout.REPORT_FILES['replicates']}",
        headline=f"{layout.REPORT_DIR}/{layout.REPORT_FILES['headline']}",
        confusions=f"{layout.REPORT_DIR}/{layout.REPORT_FILES['confusions']}",
        curves=comparison("curves", "curves"),
        parameters=comparison("parameters", "parameters"),
        sweeps=comparison("sweeps", "sweeps"),
        executed=f"{layout.REPORT_DIR}/{layout.REPORT_FILES['executed']}",
        html=comparison("html", "report_notebook"),
    log:
        layout.LOG["report"],
    params:
        runs=RUNS,
        runs_dir=folder_of("input", "evaluation", levels=2),
        data_dir=folder_of("input", "data"),
        out_dir=folder_of("output", "table_csv"),
    shell:
        "python -m stages.report --config {input.config} --runs {params.runs}"
        " --runs-dir {params.runs_dir} --data-dir {params.data_dir}"
        " --notebook {input.notebook} --out-dir {params.out_dir} --log {log}"
