RUN_REPORT = "reports/runs/{run}"


def run_figure(name, caption):
    """A per-run file of evaluate, shown in `snakemake --report` under the run's name."""
    return report(f"{RUN_REPORT}/{EVALUATION_FILES[name]}", caption=f"../report/{caption}.rst",
                  category="Runs", subcategory="{run}", labels={"file": EVALUATION_FILES[name]})


rule evaluate:
    input:
        config="configs/{run}.json",
        model=rules.train.output.model,
        data=rules.prepare.output.data,
        code=code_files("evaluate"),
    output:
        metrics=f"{RUN_REPORT}/{EVALUATION_FILES['metrics']}",
        confusion=f"{RUN_REPORT}/{EVALUATION_FILES['confusion']}",
        confusion_normalized=f"{RUN_REPORT}/{EVALUATION_FILES['confusion_normalized']}",
        heatmap=run_figure("heatmap", "confusion_matrix"),
        report_json=f"{RUN_REPORT}/{EVALUATION_FILES['report_json']}",
        report_text=run_figure("report_text", "classification_report"),
        predictions=f"{RUN_REPORT}/{EVALUATION_FILES['predictions']}",
        misclassified=run_figure("misclassified", "misclassified"),
        filters=run_figure("filters", "filters"),
    shell:
        "python -m stages.evaluate --config {input.config} --model {input.model} --data {input.data}"
        " --out-dir reports/runs/{wildcards.run}"
