# Patron's image: `docker build -t patron .` (docs/operations.md). Two stages: the first installs
# Patron and its dependencies into a virtual environment, held to constraints.txt; the second
# is a slim Python with that environment only (no build tools, no pip cache, no sources), run
# as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY constraints.txt pyproject.toml README.md LICENSE ./
COPY src ./src
# Versions come from constraints.txt (every dependency pinned there), not from this line.
# The dependencies' own test suites (about 180 MB, mostly pandas, SciPy, NumPy and pyarrow) and
# pip itself are not needed to run Patron: removed.
# hadolint ignore=DL3013
RUN python -m venv /opt/patron \
 && /opt/patron/bin/pip install -c constraints.txt . \
 && find /opt/patron/lib -type d -name tests -prune -exec rm -rf {} + \
 && /opt/patron/bin/python -m pip uninstall -q -y pip \
 && /opt/patron/bin/patron --version

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 patron \
 && useradd --system --uid 10001 --gid patron --home-dir /var/lib/patron --create-home \
      --shell /usr/sbin/nologin patron
COPY --from=build /opt/patron /opt/patron
ENV PATH=/opt/patron/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PATRON_HOST=0.0.0.0 \
    PATRON_PORT=8000 \
    PATRON_DATABASE_URL=sqlite:////var/lib/patron/patron.db \
    PATRON_ANALYTICS_PATH=/var/lib/patron/analytics.duckdb
USER 10001:10001
WORKDIR /var/lib/patron
VOLUME ["/var/lib/patron"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["patron", "serve"]
