# fmccert: slim image, non-root, `fmccert` as the entrypoint.
#   docker build -t fmccert .
#   docker run --rm -v "$PWD/config:/app/config:ro" -e FMC_PASSWORD fmccert scan
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && useradd --create-home --uid 10001 --shell /usr/sbin/nologin fmccert \
    && mkdir -p /app/config /app/var && chown fmccert:fmccert /app/var
COPY config/fmccert.example.yaml /app/config/fmccert.example.yaml

USER fmccert
ENTRYPOINT ["fmccert"]
CMD ["--help"]
