# Image for the nightly hub job: `jupyter-drive-sync hub --kubernetes` (the dispatcher) and the
# per-user push Jobs it creates (`jupyter-drive-sync hub --home ...`), or the NFS Indexed Job.
#   docker build -t <registry>/jupyter-drive-sync:0.1.0 .
# (Single-user servers get the extension by `pip install jupyter-drive-sync` in their own image.)

# --- build the wheel (it ships the prebuilt JupyterLab extension, so the build needs node) ---
FROM node:22-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip install --no-cache-dir build \
 && /opt/build/bin/python -m build --wheel --outdir /wheels

# --- the runtime: Python, the package with the `hub` extra (kubernetes client), nothing else ---
FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir "$(ls /tmp/wheels/jupyter_drive_sync-*.whl)[hub]" \
 && rm -rf /tmp/wheels \
 && useradd --uid 1000 --gid 100 --no-create-home --home-dir /home/jovyan --shell /usr/sbin/nologin jovyan
# The notebook user of Zero to JupyterHub: the Jobs mount homes owned by 1000:100.
USER 1000:100
WORKDIR /tmp
ENTRYPOINT ["jupyter-drive-sync"]
CMD ["hub", "--help"]
