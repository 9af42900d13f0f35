rule train:
    input:
        config="configs/{run}.json",
        data=rules.prepare.output.data,
        code=code_files("train"),
    output:
        model="models/runs/{run}/model.keras",
        history="reports/runs/{run}/history.csv",
        summary="reports/runs/{run}/training.json",
    shell:
        "python -m stages.train --config {input.config} --data {input.data}"
        " --model {output.model} --history {output.history} --summary {output.summary}"
