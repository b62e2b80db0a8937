# SecureFlaskAuth: a slim, non-root image. `docker run -p 5000:5000 IMAGE` serves the
# development setup on 0.0.0.0:5000 (SQLite, SMS outbox, Swagger UI); set SFA_ENV=production
# and the production settings (see docker-compose.yml and the README) for real use.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SFA_HOST=0.0.0.0 \
    SFA_PORT=5000 \
    SFA_VAR_DIR=/var/lib/secureflaskauth \
    SFA_DATABASE_URL=sqlite:////var/lib/secureflaskauth/secureflaskauth.db
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/secureflaskauth sfa
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER sfa
WORKDIR /var/lib/secureflaskauth
EXPOSE 5000
# `serve` applies the database migrations, then starts gunicorn; SIGTERM lets
# in-flight requests finish (graceful timeout 30 s).
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=2).status == 200 else 1)"]
STOPSIGNAL SIGTERM
CMD ["secureflaskauth", "serve"]
