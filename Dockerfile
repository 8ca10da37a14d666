# Bewaarplaats image: `bewaar serve` (scheduler + web app) on port 8000; also `bewaar worker`.
# The web app's style sheets, fonts and API-docs scripts come from the npm registry, pinned by
# package-lock.json; only the copied files reach the image (no node at run time).
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/assets ./scripts/assets
RUN mkdir -p bewaar/web/static && scripts/assets

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BEWAAR_HOME=/data
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl curl fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY archive ./archive
COPY crawler ./crawler
COPY replay ./replay
COPY chat_archiver ./chat_archiver
COPY scheduler ./scheduler
COPY search ./search
COPY woo ./woo
COPY archivist ./archivist
COPY bewaar ./bewaar
COPY --from=assets /src/bewaar/web/static/vendor ./bewaar/web/static/vendor
RUN pip install --no-cache-dir -c constraints.txt ".[postgres,s3]"
RUN useradd --system --home /data --uid 10001 bewaar && mkdir -p /data /home/bewaar/work \
    && chown bewaar /data /home/bewaar/work  # /home/bewaar/work: a `bewaar worker`'s own folder
USER bewaar
VOLUME ["/data"]
EXPOSE 8000
CMD ["bewaar", "serve", "--host", "0.0.0.0", "--port", "8000"]
