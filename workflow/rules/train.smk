rule train:
    input:
        config=layout.CONFIGS["run"],
        data=rules.prepare.output.data,
        code=layout.CODES["train"],
    output:
        model=layout.MODEL,
        history=layout.run_file("history"),
        summary=layout.run_file("summary"),
        # dvclive's folder, rewritten after every epoch while the run trains.
        live=[layout.run_file(key) for key in layout.TRAIN_FILES if key.startswith("live_")],
    log:
        layout.LOG["train"],
    params:
        live=folder_of("output", "live"),
        times=layout.TIMES,
    shell:
        "python -m stages.train --config {input.config} --data {input.data} --model {output.model}"
        " --history {output.history} --summary {output.summary}"
        " --live {params.live} --times {params.times} --log {log}"
