rule prepare:
    input:
        config=layout.CONFIGS["prepare"],
        raw=rules.download.output.raw,
        raw_stamp=stamps_of(rules.download.output.raw),
        code=layout.code_config("prepare"),
    output:
        data=directory(layout.PREPARED),
        samples=report(layout.SAMPLES, caption="../report/samples.rst", category="Data"),
        balance=layout.CLASS_BALANCE,
    log:
        layout.LOG["prepare"],
    shell:
        "python -m stages.prepare --config {input.config} --raw {input.raw} --out {output.data}"
        " --samples {output.samples} --balance {output.balance} --log {log}"
