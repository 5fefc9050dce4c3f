import { en, Faker } from '@faker-js/faker';
import type Database from 'better-sqlite3';
import { DAY_MS, insertRows, isoDate } from './sqlite-file.ts';

export const FLIGHTS_VERSION = 1;

const SCHEMA = `
CREATE TABLE airlines ( -- carriers (names and IATA codes from faker's airline data)
  code TEXT PRIMARY KEY,        -- IATA airline code, e.g. 'BA'
  name TEXT NOT NULL UNIQUE,
  founded_year INTEGER          -- NULL when unknown
);
CREATE TABLE airports ( -- airports with scheduled service (names and IATA codes from faker's airline data)
  code TEXT PRIMARY KEY,        -- IATA airport code, e.g. 'LHR'
  name TEXT NOT NULL
);
CREATE TABLE aircraft ( -- the fleet: one row per plane
  tail_number TEXT PRIMARY KEY, -- registration, e.g. 'N123AB'
  airline_code TEXT NOT NULL REFERENCES airlines(code),
  model TEXT NOT NULL,          -- aircraft type, e.g. 'Airbus A320'
  seats INTEGER NOT NULL,
  delivered_year INTEGER NOT NULL
);
CREATE TABLE flights ( -- one row per scheduled departure
  id INTEGER PRIMARY KEY,
  flight_number TEXT NOT NULL,  -- airline code and number, e.g. 'BA117'
  airline_code TEXT NOT NULL REFERENCES airlines(code),
  tail_number TEXT NOT NULL REFERENCES aircraft(tail_number),
  origin TEXT NOT NULL REFERENCES airports(code),
  destination TEXT NOT NULL REFERENCES airports(code),
  departs_on TEXT NOT NULL,     -- ISO date 'YYYY-MM-DD'
  distance_km INTEGER NOT NULL,
  delay_minutes INTEGER,        -- departure delay; NULL for cancelled flights
  cancelled INTEGER NOT NULL    -- 1 = cancelled
);
CREATE TABLE bookings ( -- seats sold
  id INTEGER PRIMARY KEY,
  flight_id INTEGER NOT NULL REFERENCES flights(id),
  passenger_name TEXT NOT NULL,
  fare_class TEXT NOT NULL,     -- 'economy', 'premium', 'business' or 'first'
  price REAL NOT NULL           -- USD paid
);
`;

const FARES: Array<[string, number]> = [
  ['economy', 1],
  ['economy', 1],
  ['economy', 1],
  ['premium', 1.8],
  ['business', 3.5],
  ['first', 6],
];

/** Airlines, airports and aircraft types from faker's airline data; fleets, a year of flights and bookings generated under a fixed seed. */
export function fillFlights(db: Database.Database, seed: number): void {
  db.exec(SCHEMA);
  const faker = new Faker({ locale: [en] });
  faker.seed(seed + 202);
  const { airline, airport, airplane } = faker.definitions.airline;
  const airlines = faker.helpers
    .uniqueArray(() => faker.helpers.arrayElement(airline), 24)
    .map((a) => ({
      code: a.iataCode,
      name: a.name,
      founded_year:
        faker.number.int({ min: 0, max: 6 }) === 0 ? null : faker.number.int({ min: 1919, max: 2010 }),
    }));
  const airports = faker.helpers
    .uniqueArray(() => faker.helpers.arrayElement(airport), 36)
    .map((a) => ({ code: a.iataCode, name: a.name }));
  const models = faker.helpers.uniqueArray(() => faker.helpers.arrayElement(airplane).name, 14);
  const tails = new Set<string>();
  const aircraft = airlines.flatMap((a) =>
    Array.from({ length: faker.number.int({ min: 3, max: 7 }) }, () => {
      let tail: string;
      do
        tail = `N${faker.number.int({ min: 100, max: 999 })}${faker.string.alpha({ length: 2, casing: 'upper' })}`;
      while (tails.has(tail));
      tails.add(tail);
      return {
        tail_number: tail,
        airline_code: a.code,
        model: faker.helpers.arrayElement(models),
        seats: faker.number.int({ min: 7, max: 40 }) * 10,
        delivered_year: faker.number.int({ min: 1995, max: 2023 }),
      };
    }),
  );
  const routes = airlines.flatMap((a) =>
    Array.from({ length: faker.number.int({ min: 3, max: 6 }) }, (_, i) => {
      const [origin, destination] = faker.helpers.arrayElements(airports, 2);
      return {
        airline: a.code,
        number: `${a.code}${100 + i * 7 + faker.number.int({ min: 0, max: 6 })}`,
        origin: origin!.code,
        destination: destination!.code,
        distance: faker.number.int({ min: 300, max: 12_000 }),
      };
    }),
  );
  const flights: Record<string, unknown>[] = [];
  const bookings: Record<string, unknown>[] = [];
  for (const route of routes) {
    const fleet = aircraft.filter((p) => p.airline_code === route.airline);
    for (
      let at = new Date('2024-01-01').getTime() + faker.number.int({ min: 0, max: 9 }) * DAY_MS;
      at < new Date('2025-01-01').getTime();
      at += faker.number.int({ min: 3, max: 14 }) * DAY_MS
    ) {
      const cancelled = faker.number.int({ min: 0, max: 24 }) === 0 ? 1 : 0;
      const id = flights.length + 1;
      flights.push({
        id,
        flight_number: route.number,
        airline_code: route.airline,
        tail_number: faker.helpers.arrayElement(fleet).tail_number,
        origin: route.origin,
        destination: route.destination,
        departs_on: isoDate(new Date(at)),
        distance_km: route.distance,
        delay_minutes: cancelled
          ? null
          : faker.helpers.weightedArrayElement([
              { weight: 6, value: 0 },
              { weight: 3, value: faker.number.int({ min: 1, max: 45 }) },
              { weight: 1, value: faker.number.int({ min: 46, max: 300 }) },
            ]),
        cancelled,
      });
      if (cancelled) continue;
      const base = Math.round(40 + route.distance * 0.08);
      for (let seat = faker.number.int({ min: 1, max: 8 }); seat > 0; seat--) {
        const [fare_class, factor] = faker.helpers.arrayElement(FARES);
        bookings.push({
          id: bookings.length + 1,
          flight_id: id,
          passenger_name: faker.person.fullName(),
          fare_class,
          price: Math.round(base * factor * faker.number.float({ min: 0.8, max: 1.3 })),
        });
      }
    }
  }
  insertRows(db, 'airlines', airlines);
  insertRows(db, 'airports', airports);
  insertRows(db, 'aircraft', aircraft);
  insertRows(db, 'flights', flights);
  insertRows(db, 'bookings', bookings);
}
