rule prepare:
    input:
        config="configs/data/prepare.json",
        raw=rules.download.output.raw,
        code=code_files("prepare"),
    output:
        data=directory("data/prepared"),
        samples="reports/data/samples.png",
        balance="reports/data/class_balance.csv",
    shell:
        "python -m stages.prepare --config {input.config} --raw {input.raw} --out {output.data}"
        " --samples {output.samples} --balance {output.balance}"
