rule download:
    input:
        config=layout.CONFIGS["download"],
        # A user's image folder is an input: changing its images reruns download.
        source=source_inputs(PARAMS),
        source_stamps=stamps_of(source_inputs(PARAMS)),
        code=layout.code_config("download"),
    output:
        raw=directory(layout.RAW),
    log:
        layout.LOG["download"],
    shell:
        "python -m stages.download --config {input.config} --out {output.raw} --log {log}"
