/**
 * pgmoat/client, kept for applications that import it from the whole pgmoat package: the same
 * module as the light package @pgmoat/client (packages/client), which an application should
 * install instead (it depends on Node only).
 */
export * from '@pgmoat/client';
