// Self-listening, as `nest new` generates it: warden captures the listen() on process.env.PORT.
// Run: warden serve main.cjs --workers 2
const { NestFactory } = require('@nestjs/core');
const { AppModule } = require('./app.module.cjs');

async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(process.env.PORT ?? 3000);
}
bootstrap();
