// @peculiar/x509 reads decorator metadata at import time: reflect-metadata must load first.
// Every module in pgmoat imports x509 through this file so that order always holds.
import 'reflect-metadata';

export * from '@peculiar/x509';
