# wxstream: one image for the Ray head, the Ray workers, the topic set-up job and the
# inference service. Installs the package with the pinned versions of constraints.txt so
# the image runs exactly what the tests ran.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MODEL_STORAGE_PATH=/app/models

WORKDIR /app

# Dependencies first (a layer cached until the pins change), then the source.
COPY constraints.txt pyproject.toml README.md ./
COPY src ./src
RUN pip install -c constraints.txt . \
    && useradd --create-home --uid 1000 wxstream \
    && mkdir -p /app/models \
    && chown wxstream:wxstream /app/models

USER wxstream
VOLUME ["/app/models"]

ENTRYPOINT ["wxstream"]
CMD ["--help"]
