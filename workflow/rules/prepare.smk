rule prepare:
    input:
        raw=rules.download.output.raw,
        code=code_files("prepare"),
    output:
        data=directory("data/prepared"),
    params:
        seed=config["seed"],
        val_fraction=config["split"]["val_fraction"],
        test_fraction=config["split"]["test_fraction"],
    shell:
        "python -m stages.prepare --raw {input.raw} --out {output.data} --seed {params.seed}"
        " --val-fraction {params.val_fraction} --test-fraction {params.test_fraction}"
