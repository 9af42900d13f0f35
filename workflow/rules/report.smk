rule report:
    input:
        metrics=per_run(rules.evaluate.output.metrics),
        summaries=per_run(rules.train.output.summary),
        histories=per_run(rules.train.output.history),
        confusions=per_run(rules.evaluate.output.confusion),
        notebook="workflow/notebooks/report.ipynb",
        code=code_files("report"),
    output:
        table_csv="reports/comparison.csv",
        table_md="reports/comparison.md",
        executed="reports/report.ipynb",
        html="reports/report.html",
    params:
        runs=RUNS,
        metric=config["report"]["metric"],
    shell:
        "python -m stages.report --runs {params.runs} --metric {params.metric}"
        " --metrics {input.metrics} --summaries {input.summaries}"
        " --histories {input.histories} --confusions {input.confusions}"
        " --notebook {input.notebook} --table-csv {output.table_csv} --table-md {output.table_md}"
        " --executed {output.executed} --html {output.html}"
