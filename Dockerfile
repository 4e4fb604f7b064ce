# Semantic SQL Gateway: PostgreSQL wire protocol in front of semantic models.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 10001 gateway
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY virtual_schema ./virtual_schema
RUN pip install .
COPY semantic-models ./semantic-models
COPY start_sql_server.py ./
RUN mkdir -p /app/data && chown gateway:gateway /app/data
USER gateway

# 5433: PostgreSQL wire protocol; 8080: GET /healthz and /readyz
EXPOSE 5433 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=4).status == 200 else 1)"
CMD ["python", "start_sql_server.py", "--host", "0.0.0.0", "--port", "5433", "--health-port", "8080"]
