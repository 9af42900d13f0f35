rule prepare:
    input:
        config="configs/data/prepare.json",
        raw=rules.download.output.raw,
        code=code_files("prepare"),
    output:
        data=directory("data/prepared"),
        samples=report("reports/data/samples.png", caption="../report/samples.rst", category="Data"),
        balance="reports/data/class_balance.csv",
    shell:
        "python -m stages.prepare --config {input.config} --raw {input.raw} --out {output.data}"
        " --samples {output.samples} --balance {output.balance}"
