rule train:
    input:
        config=layout.CONFIGS["run"],
        data=rules.prepare.output.data,
        code=layout.CODES["train"],
    output:
        model=layout.MODEL,
        history=layout.run_file("history"),
        summary=layout.run_file("summary"),
        # dvclive's folder, rewritten after every epoch while the run trains: one output, as in dvc.yaml.
        live=directory(f"{layout.RUN_DIR}/{layout.LIVE_DIR}"),
    log:
        layout.LOG["train"],
    params:
        times=layout.TIMES,
    shell:
        "python -m stages.train --config {input.config} --data {input.data} --model {output.model}"
        " --history {output.history} --summary {output.summary}"
        " --live {output.live} --times {params.times} --log {log}"
