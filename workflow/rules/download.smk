rule download:
    input:
        config="configs/data/download.json",
        # A user's image folder is an input: changing its images reruns download.
        source=source_inputs(PARAMS),
        code=code_files("download"),
    output:
        raw=directory("data/raw"),
    shell:
        "python -m stages.download --config {input.config} --out {output.raw}"
