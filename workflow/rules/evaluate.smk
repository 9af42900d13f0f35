rule evaluate:
    input:
        config=layout.CONFIGS["run"],
        model=rules.train.output.model,
        data=rules.prepare.output.data,
        data_stamp=stamps_of(rules.prepare.output.data),
        code=layout.code_config("evaluate"),
    output:
        # metrics, scores, confusion matrix, classification report, figures: one output, as in dvc.yaml.
        evaluation=run_figures(layout.EVALUATION),
    log:
        layout.LOG["evaluate"],
    shell:
        "python -m stages.evaluate --config {input.config} --model {input.model} --data {input.data}"
        " --out-dir {output.evaluation} --log {log}"
