// The factory shape: warden calls createApp() and serves the http.Server it returns, which never
// listens itself. close() is awaited in each retiring worker after its last request.
// Run: warden serve factory.mjs --factory --workers 2
import { NestFactory } from '@nestjs/core';
import nestModule from './app.module.cjs';

let app;

export default async function createApp() {
  app = await NestFactory.create(nestModule.AppModule, { logger: ['error', 'warn'] });
  await app.init();
  return app.getHttpServer();
}

export async function close() {
  await app?.close();
}
