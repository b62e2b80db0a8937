# SecureFlaskAuth: a slim, non-root image.
#   docker run -p 5000:5000 IMAGE
# serves the development setup on 0.0.0.0:5000 (SQLite, SMS outbox, Swagger UI); as the
# bind is not loopback, /dev/outbox is off and codes go to the log (`docker logs`).
# Set SFA_ENV=production and the production settings (see docker-compose.yml and the
# README) for real use.

# The service and its dependencies, at the versions and hashes uv.lock pins, are
# installed into a virtual environment that the final stage copies whole: the wheels,
# the sources, pip and uv stay in this stage and in no layer of the image.
FROM python:3.11-slim AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
# Every provider is in the image (sns too): the operator chooses one by its setting.
# The system's certificates, as pip uses them (a proxy's CA where there is one).
# Compiled to bytecode here: the image sets PYTHONDONTWRITEBYTECODE and its user cannot
# write /opt/venv, so without it every process (the server and each of its workers)
# would compile every module again at each start.
RUN UV_PROJECT_ENVIRONMENT=/opt/venv UV_SYSTEM_CERTS=1 uv sync --frozen --no-dev \
      --no-editable --extra sns --no-cache --compile-bytecode --python /usr/local/bin/python

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SFA_HOST=0.0.0.0 \
    SFA_PORT=5000 \
    SFA_VAR_DIR=/var/lib/secureflaskauth \
    SFA_DATABASE_URL=sqlite:////var/lib/secureflaskauth/secureflaskauth.db
# A fixed uid: a bind mount is made writable with `chown -R 10001 DIR` on the host.
RUN groupadd --system --gid 10001 sfa \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin sfa \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/secureflaskauth
COPY --from=build /opt/venv /opt/venv
# Numeric, so an orchestrator can verify that the image does not run as root.
USER 10001:10001
WORKDIR /var/lib/secureflaskauth
# The SQLite database, the signing keys and the development OTP key: a new container
# given the same volume (`-v sfa-data:/var/lib/secureflaskauth`) keeps users and keys.
VOLUME /var/lib/secureflaskauth
EXPOSE 5000
# `serve` waits for the database (SFA_STARTUP_TIMEOUT_SECONDS), applies the migrations,
# then starts gunicorn; SIGTERM lets in-flight requests finish (graceful timeout 30 s).
# The health check asks /healthz on the port the server listens on (SFA_HOST, SFA_PORT).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-m", "secureflaskauth.healthcheck"]
STOPSIGNAL SIGTERM
CMD ["secureflaskauth", "serve"]
