import { en, Faker } from '@faker-js/faker';
import type Database from 'better-sqlite3';
import { DAY_MS, insertRows, isoDate } from './sqlite-file.ts';

export const LIBRARY_VERSION = 1;

const SCHEMA = `
CREATE TABLE authors ( -- writers of the books in the collection
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  birth_year INTEGER,           -- NULL when unknown
  country TEXT                  -- NULL when unknown
);
CREATE TABLE books ( -- one row per title in the collection
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  author_id INTEGER NOT NULL REFERENCES authors(id),
  genre TEXT NOT NULL,
  published_year INTEGER NOT NULL,
  pages INTEGER                 -- NULL when not catalogued
);
CREATE TABLE members ( -- library card holders
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  joined_on TEXT NOT NULL,      -- ISO date 'YYYY-MM-DD'
  email TEXT                    -- NULL when the member gave none
);
CREATE TABLE loans ( -- a book lent to a member
  id INTEGER PRIMARY KEY,
  book_id INTEGER NOT NULL REFERENCES books(id),
  member_id INTEGER NOT NULL REFERENCES members(id),
  loaned_on TEXT NOT NULL,      -- ISO date
  due_on TEXT NOT NULL,         -- ISO date, 21 days after loaned_on
  returned_on TEXT              -- ISO date; NULL while the book is still out
);
`;

const COUNTRIES = [
  'United Kingdom',
  'United States',
  'Ireland',
  'France',
  'Nigeria',
  'India',
  'Japan',
  'Argentina',
  null,
];

/** A lending library generated under a fixed seed: dates, overdue loans and NULLs. */
export function fillLibrary(db: Database.Database, seed: number): void {
  db.exec(SCHEMA);
  const faker = new Faker({ locale: [en] });
  faker.seed(seed);
  const authors = Array.from({ length: 70 }, (_, i) => ({
    id: i + 1,
    name: faker.person.fullName(),
    birth_year:
      faker.number.int({ min: 0, max: 5 }) === 0 ? null : faker.number.int({ min: 1900, max: 1995 }),
    country: faker.helpers.arrayElement(COUNTRIES),
  }));
  const books = Array.from({ length: 260 }, (_, i) => ({
    id: i + 1,
    title: `${faker.book.title()}${i >= 100 ? ` (${faker.word.adjective()} edition)` : ''}`,
    author_id: faker.helpers.arrayElement(authors).id,
    genre: faker.book.genre(),
    published_year: faker.number.int({ min: 1950, max: 2024 }),
    pages: faker.number.int({ min: 0, max: 6 }) === 0 ? null : faker.number.int({ min: 90, max: 900 }),
  }));
  const members = Array.from({ length: 150 }, (_, i) => {
    const name = faker.person.fullName();
    return {
      id: i + 1,
      name,
      joined_on: isoDate(faker.date.between({ from: '2018-01-01', to: '2023-06-30' })),
      email: faker.number.int({ min: 0, max: 3 }) === 0 ? null : `member${i + 1}@example.org`,
    };
  });
  const loans = Array.from({ length: 1100 }, (_, i) => {
    const member = faker.helpers.arrayElement(members);
    const loaned = faker.date.between({ from: `${member.joined_on}T00:00:00Z`, to: '2024-12-20T00:00:00Z' });
    const due = new Date(loaned.getTime() + 21 * DAY_MS);
    const outcome = faker.number.int({ min: 0, max: 9 });
    // 0 → still out, 1-2 → returned late, otherwise returned on time.
    const returned =
      outcome === 0
        ? null
        : new Date(
            loaned.getTime() +
              faker.number.int(outcome <= 2 ? { min: 22, max: 60 } : { min: 1, max: 21 }) * DAY_MS,
          );
    return {
      id: i + 1,
      book_id: faker.helpers.arrayElement(books).id,
      member_id: member.id,
      loaned_on: isoDate(loaned),
      due_on: isoDate(due),
      returned_on: returned ? isoDate(returned) : null,
    };
  });
  insertRows(db, 'authors', authors);
  insertRows(db, 'books', books);
  insertRows(db, 'members', members);
  insertRows(db, 'loans', loans);
}
