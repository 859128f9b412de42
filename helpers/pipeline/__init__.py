"""The pipeline: the notebooks run in order by papermill, stages reused while up to date."""
