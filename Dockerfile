# fmccert: slim image, non-root, `fmccert` as the entrypoint, the Slack bot by default.
#   docker build -t fmccert .
#   docker run -d -v "$PWD/config:/app/config:ro" -v fmccert-var:/app/var -p 3000:3000 \
#     -e FMC_PASSWORD -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN fmccert
# The config file is /app/config/fmccert.yaml; keep the database in the /app/var volume:
#   storage: {url: "sqlite+aiosqlite:////app/var/fmccert.db"}
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 FMCCERT_CONFIG=/app/config/fmccert.yaml
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && useradd --create-home --uid 10001 --shell /usr/sbin/nologin fmccert \
    && mkdir -p /app/config /app/var && chown fmccert:fmccert /app/var
COPY config/fmccert.example.yaml config/slack-manifest.yaml config/prometheus-alerts.yaml /app/config-examples/

USER fmccert
VOLUME ["/app/var"]
EXPOSE 3000
# /healthz answers 200 once the bot is connected to Slack (both modes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"]
ENTRYPOINT ["fmccert"]
CMD ["run", "--host", "0.0.0.0", "--port", "3000"]
