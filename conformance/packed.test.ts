/**
 * The packages as npm publishes them. `npm pack` each one (its `prepack` builds it) into a
 * temporary folder; check the tarball's contents (README, LICENSE, `dist` with
 * declarations, and the sources its source maps name); run publint and
 * arethetypeswrong on it; then install all the tarballs in a clean project in the system's
 * temporary folder, compile a strict TypeScript consumer against them there (`lib:
 * ["es2023"]`, `types: ["node"]`, `skipLibCheck: false`), and run the library README's
 * server and client against each other (loopback, port 0).
 *
 * arethetypeswrong runs with its `esm-only` profile: these packages are ESM only
 * (`"type": "module"`, exports with no `require` condition), which that profile accepts;
 * the default would report every entry point as unusable from CommonJS `require` (which is
 * by design) and check `node10` resolution, which ignores `exports` and cannot load the
 * subpaths at all.
 *
 * The runtime dependencies that are not ours (`ioredis`, `prom-client`) and `@types/node`
 * come from npm's cache when they are there, and from the registry otherwise. A failure to
 * pack or install is a failure of the test, in CI and out of it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../scripts/lib/prereqs.js';

/** The published packages, by folder under packages/. */
const PACKAGES = ['sockeye', 'redis', 'metrics', 'cli'] as const;

/** The hang guard of each command (they take seconds; the machine may be loaded). */
const COMMAND_TIMEOUT_MS = 120_000;

interface Run {
  stdout: string;
  stderr: string;
}

/**
 * This process's environment without the variables npm sets for the scripts it runs
 * (`npm test` is one), so that the parent's settings (its prefix, its command line, a
 * workspace) do not leak into the packs and the clean project's install.
 */
function npmFreeEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')),
  );
}

/** Run a command; reject with its output if it fails or outlives the hang guard. */
function run(command: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd,
        timeout: COMMAND_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...npmFreeEnv(), npm_config_update_notifier: 'false', npm_config_fund: 'false' },
      },
      (error, stdout, stderr) => {
        if (error === null) resolve({ stdout, stderr });
        else
          reject(
            new Error(`${command} ${args.join(' ')} (in ${cwd}): ${error.message}\n${stdout}\n${stderr}`),
          );
      },
    );
  });
}

/** A binary of the repository's devDependencies. */
function bin(name: string): string {
  return join(ROOT, 'node_modules', '.bin', name);
}

interface Packed {
  /** The package's folder under packages/. */
  folder: string;
  name: string;
  tarball: string;
  files: string[];
}

/** The first ```js block after the heading `## title` of a README. */
function example(readme: string, title: string): string {
  const section = readme.split(`## ${title}\n`)[1];
  const code = section === undefined ? undefined : /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code !== undefined, `README has a js block under "## ${title}"`);
  return code;
}

describe('published packages', { timeout: 600_000 }, () => {
  let work = '';
  const packed: Packed[] = [];

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'sockeye-packed-'));
    mkdirSync(join(work, 'tarballs'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('npm pack of each package holds its README, LICENSE, dist, declarations and the sources its maps name', async () => {
    for (const folder of PACKAGES) {
      const dir = join(ROOT, 'packages', folder);
      const { stdout } = await run(
        'npm',
        ['pack', '--json', '--pack-destination', join(work, 'tarballs')],
        dir,
      );
      // prepack's own output (tsc) may precede the JSON.
      const [info] = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as [
        { name: string; filename: string; files: { path: string }[] },
      ];
      const files = info.files.map((file) => file.path);
      packed.push({ folder, name: info.name, tarball: join(work, 'tarballs', info.filename), files });

      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        exports: Record<string, { types: string; default: string }>;
        publishConfig?: { access?: string };
      };
      // A scoped package is published restricted (private) unless it says otherwise.
      assert.equal(manifest.publishConfig?.access, 'public', `${info.name}: publishConfig.access`);
      for (const file of ['README.md', 'LICENSE', 'package.json'])
        assert.ok(files.includes(file), `${info.name}: ${file}`);
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        for (const file of [target.types, target.default])
          assert.ok(files.includes(file.replace(/^\.\//, '')), `${info.name} ${subpath}: ${file} is packed`);
      }
      assert.ok(
        !files.some((file) => file.includes('.tsbuildinfo') || file.includes('/test/')),
        `${info.name}: no build state, no tests`,
      );
      // Every source map (of the JavaScript and of the declarations) names sources that ship.
      const maps = files.filter((file) => file.endsWith('.map'));
      assert.ok(maps.length > 0, `${info.name} ships source maps`);
      for (const map of maps) {
        const { sources } = JSON.parse(readFileSync(join(dir, map), 'utf8')) as { sources: string[] };
        for (const source of sources) {
          const path = join(map, '..', source).replaceAll('\\', '/');
          assert.ok(files.includes(path), `${info.name}: ${map} names ${source}, which is packed`);
        }
      }
    }
    assert.deepEqual(
      packed.map((p) => p.name),
      ['@sockeye/sockeye', '@sockeye/redis', '@sockeye/metrics', '@sockeye/cli'],
    );
  });

  it('publint finds nothing to report in any tarball', async () => {
    assert.equal(packed.length, PACKAGES.length, 'packed');
    for (const { tarball } of packed) {
      const { stdout } = await run(bin('publint'), ['run', tarball, '--strict'], work);
      assert.match(stdout, /All good!/, stdout);
    }
  });

  it('arethetypeswrong (esm-only profile) finds no problem in any tarball', async () => {
    assert.equal(packed.length, PACKAGES.length, 'packed');
    for (const { tarball } of packed) {
      // Exits non-zero on a problem; the table says which entry point and resolution.
      await run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped'], work);
    }
  });

  it('a clean project installs the tarballs, compiles a strict consumer against them, and runs the README server and client', async () => {
    assert.equal(packed.length, PACKAGES.length, 'packed');
    const project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`,
    );
    const typesNode = JSON.parse(
      readFileSync(join(ROOT, 'node_modules', '@types', 'node', 'package.json'), 'utf8'),
    ).version as string;
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        ...packed.map((p) => p.tarball),
        `@types/node@${typesNode}`,
      ],
      project,
    );

    copyFileSync(join(ROOT, 'conformance', 'packed', 'consumer.ts'), join(project, 'consumer.ts'));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2023',
          lib: ['es2023'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          types: ['node'],
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          noEmit: true,
        },
        files: ['consumer.ts'],
      }),
    );
    // The repository's TypeScript, on the consumer's project and its node_modules only.
    await run(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project],
      project,
    );

    // The library README's server and client, in one process: the server on port 0, the
    // client dialling the port it got, the server closed when the client is done.
    const readme = readFileSync(join(ROOT, 'packages', 'sockeye', 'README.md'), 'utf8');
    const rootReadme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.equal(example(readme, 'A server'), example(rootReadme, 'A server in five lines'), 'READMEs agree');
    assert.equal(example(readme, 'A client'), example(rootReadme, 'A client in five lines'), 'READMEs agree');
    const serverCode = example(readme, 'A server').replace('port: 8080', 'port: 0');
    const clientCode = example(readme, 'A client').replace(
      "'ws://127.0.0.1:8080'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source code for the child, whose `server` it reads
      '`ws://127.0.0.1:${server.address().port}`',
    );
    assert.notEqual(serverCode, example(readme, 'A server'), 'the server example listens on 8080');
    assert.notEqual(clientCode, example(readme, 'A client'), 'the client example dials 8080');
    const script = `${serverCode}\n${clientCode}\nws.addEventListener('close', () => server.close());\n`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], project);
    assert.equal(stdout, 'echo server on ws://127.0.0.1:8080\necho: 我是阿宝哥\n');

    // The command is installed under its name.
    const version = await run(join(project, 'node_modules', '.bin', 'sockeye'), ['--version'], project);
    assert.match(version.stdout, /0\.1\.0/);
  });
});
