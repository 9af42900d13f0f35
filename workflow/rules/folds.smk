rule folds:
    input:
        config=layout.CONFIGS["prepare"],
        data=rules.prepare.output.data,
        data_stamp=stamps_of(rules.prepare.output.data),
        code=layout.code_config("folds"),
    output:
        folds=directory(layout.FOLDS),
    log:
        layout.FOLDS_LOG,
    shell:
        "python -m stages.folds --config {input.config} --folds {wildcards.folds}"
        " --data {input.data} --out {output.folds} --log {log}"
