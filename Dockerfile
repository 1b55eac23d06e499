# syntax=docker/dockerfile:1
# The image the pods of `asa-bench distribute --image IMG` run (as `asa-bench distribute-worker`).
#   docker build -t registry.example.com/asa-bench:0.1.0 . && docker push registry.example.com/asa-bench:0.1.0
# Not built in this repository's CI (no Docker there); see README, "Scaling out".

# Build: all dependencies without their install scripts (the `node` devDependency would fetch a
# second Node binary; the image has Node 24 already), compile src/ to dist/ with the image's node,
# then drop the dev dependencies.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Run: the compiled CLI and its production dependencies only.
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# `export k6` bundles the k6 script from these sources (src/export/k6-bundle.ts).
COPY --from=build /app/src ./src
RUN chmod 0755 bin/asa-bench.js && ln -s /app/bin/asa-bench.js /usr/local/bin/asa-bench
# The image's `node` user, by number so Kubernetes can check runAsNonRoot; the Job's pods
# also set runAsUser 1000 and a read-only root filesystem (results go to an emptyDir on /tmp).
USER 1000:1000
ENTRYPOINT ["asa-bench"]
CMD ["--help"]
