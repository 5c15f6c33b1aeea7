import {defer, type Observable} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import type {Swarm} from '../swarm/swarm.js';

/**
 * The swarm as PEX and the announcer see it before it exists. The swarm is made from its
 * context (which holds PEX) and the tracker's answers (from the announcer), yet PEX passes on
 * the peers the swarm reached and the announcer asks again when the swarm has no peers: a
 * circle, closed by `bind` once the swarm is made and before the run is subscribed.
 */
export type SwarmLink = {
	/** The peers the swarm called and reached (BEP 11: the ones PEX may pass on). */
	dialable: () => PeerAddress[];
	/** How many peers are connected or connecting, read from the swarm when subscribed. */
	activePeers$: Observable<number>;
	/** Closes the circle; once only. */
	bind: (swarm: Swarm) => void;
};

/** A link to a swarm made later; asking it before `bind` is a wiring mistake and throws. */
export function swarmLink(): SwarmLink {
	let bound: Swarm | undefined;
	const swarm = (): Swarm => {
		if (!bound) {
			throw new Error('the swarm is asked for before it is made');
		}

		return bound;
	};

	return {
		dialable: () => swarm().dialable(),
		activePeers$: defer(() => swarm().activePeers$),
		bind(made) {
			if (bound) {
				throw new Error('the swarm link is bound twice');
			}

			bound = made;
		},
	};
}
