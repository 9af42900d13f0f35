rule download:
    input:
        code=code_files("download"),
    output:
        raw=directory("data/raw"),
    params:
        dataset=config["data"]["dataset"],
    shell:
        "python -m stages.download --dataset {params.dataset} --out {output.raw}"
