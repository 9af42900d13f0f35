rule weights:
    input:
        config=layout.CONFIGS["weights"],
        code=layout.code_config("weights"),
    output:
        weights=directory(layout.WEIGHTS),
    log:
        layout.WEIGHTS_LOG,
    shell:
        "python -m stages.weights --config {input.config} --out {output.weights} --log {log}"
