/**
 * `node --import tsx test/helpers/ensure-packages.ts tests|bench`: the first step of `npm test`
 * and `npm run bench`. Exits 0 when every Debian package the purpose needs is installed (one
 * dpkg-query, no apt); as root, installs the missing ones first; otherwise prints one line naming
 * them and the command to install them, and exits 1.
 */
import {spawnSync} from 'node:child_process';
import process from 'node:process';
import {missingPackages, type Purpose, packagesFor, planPackages} from './debian-packages.js';

const purpose = process.argv[2] as Purpose;
if (purpose !== 'tests' && purpose !== 'bench') {
	console.error('usage: node --import tsx test/helpers/ensure-packages.ts tests|bench');
	process.exit(2);
}

const wanted = packagesFor(purpose);
const root = process.getuid?.() === 0;
const plan = planPackages(await missingPackages(wanted), {root, purpose});
if (plan.kind === 'stop') {
	console.error(plan.message);
	process.exit(1);
}

if (plan.kind === 'install') {
	for (const [command = '', ...args] of plan.commands) {
		console.error(`> ${[command, ...args].join(' ')}`);
		const result = spawnSync(command, args, {stdio: 'inherit', env: {...process.env, ...plan.env}});
		if (result.status !== 0) {
			console.error(
				`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`,
			);
			process.exit(1);
		}
	}

	const still = await missingPackages(wanted);
	if (still === undefined || still.length > 0) {
		console.error(`still missing after apt-get install: ${still?.join(' ')}`);
		process.exit(1);
	}
}
