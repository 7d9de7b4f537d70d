"""`reconcile serve`: a local web page for township self-checks (乡镇自查), in Chinese.

A township officer uploads the files they have, checks what each file is and how its columns map
onto the canonical fields, runs the check with visible progress, browses the findings by village and
downloads the workbooks — without a command line or a YAML file. What the page confirms is written
as a `reconcile.yaml` and loaded through `reconcile.config.load_config`, so the page and the CLI
describe a run the same way.

Modules: `app` (FastAPI routes, `create_app(workdir)`), `workspace` (one folder and state file per
upload set), `files` (reading an uploaded file's header, guessing its role and mapping), `settings`
(the page's choices → reconcile.yaml), `runner` (the pipeline in a background thread, with progress),
`results` (findings, input issues and the ledger for the pages), `upload` (streaming, size-limited
multipart uploads). FastAPI, uvicorn and python-multipart come with the `web` extra.
"""
