# Pruning Advisor service image. The database lives on the /data volume; Fashion-MNIST (which model
# uploads and refreshes measure on) comes from Debian's dataset-fashion-mnist package. Both are
# checked statically by test/hardening/dockerfile.test.ts.
# Build stage: compile TypeScript and the sqlite3 native addon.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# onnxruntime-node ships its CPU binaries in the package; its install script would only fetch CUDA
# libraries from nuget.org. npm 11 skips it (package.json's allowScripts); the image's npm 10 reads this.
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json openapi.yaml ./
COPY src ./src
# The web page served at / (web/build.ts bundles it into dist/web during npm run build).
COPY web ./web
COPY db ./db
# onnxruntime-node (optional: the attacks' passes, src/engine/onnx/) ships binaries for every
# platform in its package; the image keeps Linux's (x64, arm64) and drops ~220 MB of the others.
RUN npm run build && chmod +x dist/cli/main.js && npm prune --omit=dev \
  && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32

FROM node:20-bookworm-slim
# The four IDX files in /usr/share/datasets/fashion-mnist (about 30 MB): without them uploads
# answer 503 and refreshes are refused, and the service says so at start-up. Mount another set there, or point
# ADVISOR_DATASETS elsewhere, to measure on other data.
RUN apt-get update && apt-get install -y --no-install-recommends dataset-fashion-mnist && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 ADVISOR_DB=/data/advisor.sqlite \
    ADVISOR_DATASETS=fashion-mnist=/usr/share/datasets/fashion-mnist
WORKDIR /app
COPY --from=build /app/package.json /app/openapi.yaml ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/db ./db
RUN mkdir -p /data && chown node:node /data && ln -s /app/dist/cli/main.js /usr/local/bin/advisor
VOLUME ["/data"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/cli/main.js", "serve"]
