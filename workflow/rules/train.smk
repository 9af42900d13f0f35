rule train:
    input:
        config=layout.CONFIGS["run"],
        data=train_data,
        data_stamp=stamps_of(train_data),
        weights=TRAIN_WEIGHTS,
        code=train_code,
    output:
        model=layout.MODEL,
        # history, summary and dvclive's folder (rewritten after every epoch): one output, as in dvc.yaml.
        training=directory(layout.TRAINING),
    log:
        layout.LOG["train"],
    params:
        data=train_data_path,
        history=layout.run_file("history"),
        summary=layout.run_file("summary"),
        live=layout.LIVE,
        times=layout.TIMES,
    shell:
        "python -m stages.train --config {input.config} --data {params.data} --model {output.model}"
        " --history {params.history} --summary {params.summary}"
        " --live {params.live} --times {params.times} --log {log}"
