# The local Resend emulator, for deploy/docker-compose.yml only: the connector's package (for its
# `resend-connector emulator` command) and the emulator's own distribution (emulator/, with svix). The
# production image (deploy/Dockerfile) holds neither the emulator nor what only it needs (svix).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 --user-group emulator
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY emulator ./emulator
RUN pip install --no-cache-dir . ./emulator && rm -rf /src/*
USER 10001:10001
WORKDIR /home/emulator
EXPOSE 8025
ENTRYPOINT ["resend-connector"]
CMD ["emulator", "--host", "0.0.0.0", "--port", "8025"]
