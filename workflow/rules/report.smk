def comparison(name, caption):
    """A file of the report stage, shown in `snakemake --report` under "Comparison"."""
    return report(f"reports/{REPORT_FILES[name]}", caption=f"../report/{caption}.rst", category="Comparison",
                  labels={"figure": caption.replace("_", " ")})


rule report:
    input:
        metrics=per_run(rules.evaluate.output.metrics),
        summaries=per_run(rules.train.output.summary),
        histories=per_run(rules.train.output.history),
        figures=per_run(rules.evaluate.output.heatmap)
        + per_run(rules.evaluate.output.misclassified)
        + per_run(rules.evaluate.output.filters)
        + per_run(rules.evaluate.output.report_text),
        data=[rules.prepare.output.samples, rules.prepare.output.balance],
        notebook="workflow/notebooks/report.ipynb",
        code=code_files("report"),
    output:
        table_csv=comparison("table_csv", "comparison"),
        table_md=f"reports/{REPORT_FILES['table_md']}",
        curves=comparison("curves", "curves"),
        parameters=comparison("parameters", "parameters"),
        sweeps=comparison("sweeps", "sweeps"),
        executed=f"reports/{REPORT_FILES['executed']}",
        html=comparison("html", "report_notebook"),
    params:
        runs=RUNS,
        metric=config["report"]["metric"],
    shell:
        "python -m stages.report --runs {params.runs} --metric {params.metric}"
        " --runs-dir reports/runs --data-dir reports/data"
        " --notebook {input.notebook} --out-dir reports"
