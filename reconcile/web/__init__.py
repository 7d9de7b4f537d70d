"""`reconcile serve`: a local web page for township self-checks (乡镇自查), in Chinese.

A township officer uploads the files they have, checks what each file is and how its columns map
onto the canonical fields, runs the check with visible progress, browses the findings by village and
downloads the workbooks — without a command line or a YAML file. What the page confirms is written
as a `reconcile.yaml` and loaded through `reconcile.config.load_config`, so the page and the CLI
describe a run the same way.

Modules: `app` (FastAPI routes, `create_app(workdir)`), `access` (workspace tokens, origins, hosts, the
access password), `serve` (what `reconcile serve` checks and says before it starts), `workspace` (one folder
and state file per upload set), `files` (reading an uploaded file's header, guessing its role and mapping),
`cards` (the file cards and the settings form), `settings` (the page's choices → reconcile.yaml), `runner`
(a run in a child process, with progress), `worker` (the child processes that read files and run checks),
`results` (findings, input issues and the ledger for the pages), `upload` (streaming, size-limited
multipart uploads). FastAPI, uvicorn and python-multipart come with the `web` extra.
"""
