"""The names of the files that evaluate and report write: one list for the stages and both runners."""

# Per run, in reports/runs/<run>/ (the --out-dir of evaluate).
EVALUATION_FILES = {
    "metrics": "metrics.json",
    "confusion": "confusion_matrix.csv",
    "confusion_normalized": "confusion_matrix_normalized.csv",
    "heatmap": "confusion_matrix.png",
    "report_json": "classification_report.json",
    "report_text": "classification_report.txt",
    "predictions": "predictions.csv",
    "misclassified": "misclassified.png",
    "filters": "filters.png",
}
# Across runs, in reports/ (the --out-dir of report).
REPORT_FILES = {
    "table_csv": "comparison.csv",
    "table_md": "comparison.md",
    "curves": "figures/curves.png",
    "parameters": "figures/parameters.png",
    "sweeps": "figures/sweeps.png",
    "executed": "report.ipynb",
    "html": "report.html",
}
