rule evaluate:
    input:
        config=layout.CONFIGS["run"],
        model=rules.train.output.model,
        data=rules.prepare.output.data,
        code=layout.CODES["evaluate"],
    output:
        metrics=layout.run_file("metrics"),
        scores=layout.run_file("scores"),
        provenance=layout.run_file("provenance"),
        confusion=layout.run_file("confusion"),
        confusion_normalized=layout.run_file("confusion_normalized"),
        heatmap=run_figure("heatmap", "confusion_matrix"),
        report_json=layout.run_file("report_json"),
        report_text=run_figure("report_text", "classification_report"),
        predictions=layout.run_file("predictions"),
        misclassified=run_figure("misclassified", "misclassified"),
        filters=run_figure("filters", "filters"),
    log:
        layout.LOG["evaluate"],
    params:
        out_dir=folder_of("output", "metrics"),
    shell:
        "python -m stages.evaluate --config {input.config} --model {input.model} --data {input.data}"
        " --out-dir {params.out_dir} --log {log}"
