# The Iter8 handler image with iter8-gitops added, so that an Experiment's finish action can
# run `cmd: iter8-gitops` inside the handler Job (Iter8 v0.7 runs every action there and a task
# cannot pick its own image). The binary is static: it needs nothing from the handler image.
#
#   docker build -f task-spec/handler.Dockerfile \
#     --build-arg ITER8_GITOPS_IMAGE=MY_REGISTRY/iter8-gitops:0.1.0 \
#     --build-arg HANDLER_IMAGE=iter8/handler:0.1.17 -t my-registry/iter8-handler:0.1.17-gitops task-spec
#
# Then point Iter8's handler Job template (ConfigMap iter8-system/iter8-handlers) at that image.
ARG ITER8_GITOPS_IMAGE=MY_REGISTRY/iter8-gitops:0.1.0
ARG HANDLER_IMAGE=iter8/handler:0.1.17
FROM ${ITER8_GITOPS_IMAGE} AS gitops

FROM ${HANDLER_IMAGE}
COPY --from=gitops /iter8-gitops /usr/local/bin/iter8-gitops
