rule evaluate:
    input:
        config="configs/{run}.json",
        model=rules.train.output.model,
        data=rules.prepare.output.data,
        code=code_files("evaluate"),
    output:
        metrics="reports/runs/{run}/metrics.json",
        confusion="reports/runs/{run}/confusion_matrix.csv",
        heatmap="reports/runs/{run}/confusion_matrix.png",
        report_json="reports/runs/{run}/classification_report.json",
        report_text="reports/runs/{run}/classification_report.txt",
        predictions="reports/runs/{run}/predictions.csv",
    shell:
        "python -m stages.evaluate --config {input.config} --model {input.model} --data {input.data}"
        " --metrics {output.metrics} --confusion {output.confusion} --heatmap {output.heatmap}"
        " --report-json {output.report_json} --report-text {output.report_text}"
        " --predictions {output.predictions}"
