import { lit, monthName, type QuestionTemplate } from './template.ts';

const AIRLINES = 'SELECT name FROM airlines ORDER BY code';
const MONTHS = "SELECT DISTINCT strftime('%Y-%m', departs_on) AS month FROM flights ORDER BY month";
const AIRLINE_MONTHS = `SELECT a.name, m.month FROM airlines a, (${MONTHS}) m ORDER BY a.code, m.month`;
const ROUTES =
  'SELECT DISTINCT o.name AS origin, d.name AS destination FROM flights f JOIN airports o ON o.code = f.origin JOIN airports d ON d.code = f.destination ORDER BY f.origin, f.destination';

export const FLIGHTS_TEMPLATES: QuestionTemplate[] = [
  {
    id: 'airline-code',
    difficulty: 'easy',
    skill: 'single-table',
    params: AIRLINES,
    sql: (p) => `SELECT code FROM airlines WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `What is the IATA code of ${p.name}?`,
      (p) => `Which two-character code identifies the airline ${p.name}?`,
      (p) => `Give the airline code of ${p.name}.`,
      (p) => `${p.name} flies under which IATA designator?`,
    ],
  },
  {
    id: 'airport-of-code',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT code FROM airports ORDER BY code',
    sql: (p) => `SELECT name FROM airports WHERE code = ${lit(p.code!)}`,
    phrasings: [
      (p) => `Which airport has the IATA code ${p.code}?`,
      (p) => `What is the name of the airport ${p.code}?`,
      (p) => `Name the airport behind the code ${p.code}.`,
      (p) => `The airport code ${p.code} stands for which airport?`,
    ],
  },
  {
    id: 'seats-of-aircraft',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT tail_number FROM aircraft ORDER BY tail_number',
    sql: (p) => `SELECT seats FROM aircraft WHERE tail_number = ${lit(p.tail_number!)}`,
    phrasings: [
      (p) => `How many seats does the aircraft ${p.tail_number} have?`,
      (p) => `What is the seat count of the plane registered ${p.tail_number}?`,
      (p) => `Give the number of seats on aircraft ${p.tail_number}.`,
      (p) => `How many passengers can the plane with tail number ${p.tail_number} seat?`,
    ],
  },
  {
    id: 'planes-of-model',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT DISTINCT model FROM aircraft ORDER BY model',
    sql: (p) => `SELECT tail_number, airline_code FROM aircraft WHERE model = ${lit(p.model!)}`,
    phrasings: [
      (p) => `Which aircraft are of the type ${p.model}? Give tail number and airline code.`,
      (p) => `List tail numbers and airline codes of every ${p.model}.`,
      (p) => `Name the planes (registration and operator code) whose model is ${p.model}.`,
      (p) => `What ${p.model} aircraft are in the fleets? Tail number and airline code.`,
    ],
  },
  {
    id: 'cancelled-in-month',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params: MONTHS,
    sql: (p) =>
      `SELECT COUNT(*) FROM flights WHERE cancelled = 1 AND strftime('%Y-%m', departs_on) = ${lit(p.month!)}`,
    phrasings: [
      (p) => `How many flights were cancelled in ${monthName(p.month!)}?`,
      (p) => `Count the cancelled departures of ${monthName(p.month!)}.`,
      (p) => `What number of flights scheduled in ${monthName(p.month!)} did not operate?`,
      (p) => `In ${monthName(p.month!)}, how many flights were cancelled?`,
    ],
  },
  {
    id: 'airlines-without-founding-year',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params:
      "SELECT 'founded before' AS how, 1970 AS year UNION ALL SELECT 'founded before', 1990 UNION ALL SELECT 'unknown', 0",
    sql: (p) =>
      p.how === 'unknown'
        ? 'SELECT name FROM airlines WHERE founded_year IS NULL'
        : `SELECT name FROM airlines WHERE founded_year < ${p.year}`,
    phrasings: [
      (p) =>
        p.how === 'unknown'
          ? 'Which airlines have no founding year recorded?'
          : `Which airlines were founded before ${p.year}?`,
      (p) =>
        p.how === 'unknown'
          ? 'List the airlines whose founding year is unknown.'
          : `List the airlines with a founding year earlier than ${p.year}.`,
      (p) =>
        p.how === 'unknown'
          ? 'For which carriers is the year of founding missing?'
          : `Name the carriers established before ${p.year}.`,
      (p) =>
        p.how === 'unknown'
          ? 'Name the airlines without a founded year.'
          : `What airlines date from before ${p.year}?`,
    ],
  },
  {
    id: 'flights-of-airline-in-month',
    difficulty: 'medium',
    skill: 'join',
    params: AIRLINE_MONTHS,
    sql: (p) =>
      `SELECT COUNT(*) FROM flights f JOIN airlines a ON a.code = f.airline_code WHERE a.name = ${lit(p.name!)} AND strftime('%Y-%m', f.departs_on) = ${lit(p.month!)}`,
    phrasings: [
      (p) => `How many flights did ${p.name} schedule in ${monthName(p.month!)}?`,
      (p) => `Count ${p.name}'s departures in ${monthName(p.month!)}, cancelled ones included.`,
      (p) => `What number of flights of ${p.name} were planned for ${monthName(p.month!)}?`,
      (p) => `In ${monthName(p.month!)}, how many scheduled flights did ${p.name} have?`,
    ],
  },
  {
    id: 'average-delay-of-airline',
    difficulty: 'medium',
    skill: 'aggregation',
    params: AIRLINES,
    sql: (p) =>
      `SELECT ROUND(AVG(f.delay_minutes), 1) FROM flights f JOIN airlines a ON a.code = f.airline_code WHERE a.name = ${lit(p.name!)} AND f.cancelled = 0`,
    phrasings: [
      (p) =>
        `What was ${p.name}'s average departure delay in minutes over flights that operated? Round to 1 decimal.`,
      (p) =>
        `On average, how late did ${p.name} flights leave (cancelled flights excluded)? Minutes, one decimal.`,
      (p) => `Compute the mean delay in minutes of ${p.name}'s operated flights, to 1 decimal.`,
      (p) =>
        `How many minutes of delay did a ${p.name} departure have on average, leaving out cancellations? Round to one decimal.`,
    ],
  },
  {
    id: 'destinations-from-airport',
    difficulty: 'medium',
    skill: 'join',
    params: 'SELECT DISTINCT o.name FROM flights f JOIN airports o ON o.code = f.origin ORDER BY f.origin',
    sql: (p) =>
      `SELECT DISTINCT d.name FROM flights f JOIN airports o ON o.code = f.origin JOIN airports d ON d.code = f.destination WHERE o.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `To which airports are there flights from ${p.name}?`,
      (p) => `List the destination airports (each once) served from ${p.name}.`,
      (p) => `Where can you fly from ${p.name}? Give the airport names.`,
      (p) => `Name every airport with a scheduled flight departing ${p.name}.`,
    ],
  },
  {
    id: 'busiest-routes',
    difficulty: 'medium',
    skill: 'ordering',
    params: 'SELECT 3 AS k UNION ALL SELECT 5 UNION ALL SELECT 8',
    sql: (p) =>
      `SELECT origin, destination, COUNT(*) AS n FROM flights WHERE cancelled = 0 GROUP BY origin, destination ORDER BY n DESC, origin, destination LIMIT ${p.k}`,
    phrasings: [
      (p) =>
        `Which ${p.k} routes (origin and destination codes) had the most operated flights? Give the count, most first, ties by origin then destination.`,
      (p) =>
        `List the top ${p.k} airport pairs by number of flights flown (no cancellations), with counts in descending order.`,
      (p) =>
        `Name the ${p.k} busiest routes by operated flights: origin code, destination code, flights; ties broken by origin and destination.`,
      (p) =>
        `By flights that actually flew, what are the ${p.k} busiest origin–destination pairs? Most first, then alphabetical by origin and destination.`,
    ],
  },
  {
    id: 'revenue-of-flight',
    difficulty: 'medium',
    skill: 'aggregation',
    params: 'SELECT f.flight_number, f.departs_on FROM flights f WHERE f.cancelled = 0 ORDER BY f.id',
    sql: (p) =>
      `SELECT SUM(b.price) FROM bookings b JOIN flights f ON f.id = b.flight_id WHERE f.flight_number = ${lit(p.flight_number!)} AND f.departs_on = ${lit(p.departs_on!)}`,
    phrasings: [
      (p) => `What was the total ticket revenue of flight ${p.flight_number} on ${p.departs_on}?`,
      (p) => `How much did passengers pay altogether for ${p.flight_number} departing ${p.departs_on}?`,
      (p) => `Sum the booking prices of flight ${p.flight_number} on ${p.departs_on}.`,
      (p) => `What did flight ${p.flight_number} of ${p.departs_on} earn from bookings?`,
    ],
  },
  {
    id: 'never-cancelled-aircraft',
    difficulty: 'medium',
    skill: 'nesting',
    params: AIRLINES,
    sql: (p) =>
      `SELECT ac.tail_number FROM aircraft ac JOIN airlines a ON a.code = ac.airline_code WHERE a.name = ${lit(p.name!)} AND ac.tail_number NOT IN (SELECT tail_number FROM flights WHERE cancelled = 1)`,
    phrasings: [
      (p) => `Which aircraft of ${p.name} never had a flight cancelled?`,
      (p) => `List the tail numbers of ${p.name} planes without a single cancelled flight.`,
      (p) => `Name the ${p.name} aircraft whose flights all operated.`,
      (p) => `Which planes in ${p.name}'s fleet have no cancellation on record? Tail numbers.`,
    ],
  },
  {
    id: 'longest-route-of-airline',
    difficulty: 'medium',
    skill: 'nesting',
    params: AIRLINES,
    sql: (p) =>
      `SELECT DISTINCT f.origin, f.destination, f.distance_km FROM flights f JOIN airlines a ON a.code = f.airline_code WHERE a.name = ${lit(p.name!)} AND f.distance_km = (SELECT MAX(x.distance_km) FROM flights x WHERE x.airline_code = a.code)`,
    phrasings: [
      (p) => `What is the longest route ${p.name} flies? Give origin code, destination code and distance.`,
      (p) => `Which ${p.name} route covers the most kilometres? Origin, destination, distance.`,
      (p) => `Name the origin and destination of ${p.name}'s longest flight, with its distance in km.`,
      (p) =>
        `On which route does ${p.name} fly the furthest? Origin and destination codes plus the distance.`,
    ],
  },
  {
    id: 'long-delays-in-month',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params: `SELECT a.name, m.month, n FROM airlines a, (${MONTHS}) m, (SELECT 30 AS n UNION ALL SELECT 60) ORDER BY a.code, m.month, n`,
    sql: (p) =>
      `SELECT COUNT(*) FROM flights f JOIN airlines a ON a.code = f.airline_code WHERE a.name = ${lit(p.name!)} AND strftime('%Y-%m', f.departs_on) = ${lit(p.month!)} AND f.delay_minutes > ${p.n}`,
    phrasings: [
      (p) => `How many ${p.name} flights in ${monthName(p.month!)} left more than ${p.n} minutes late?`,
      (p) => `Count the ${monthName(p.month!)} departures of ${p.name} delayed by over ${p.n} minutes.`,
      (p) => `In ${monthName(p.month!)}, how many flights of ${p.name} had a delay above ${p.n} minutes?`,
      (p) =>
        `What number of ${p.name} flights during ${monthName(p.month!)} were delayed more than ${p.n} minutes?`,
    ],
  },
  {
    id: 'fare-classes-of-airline',
    difficulty: 'medium',
    skill: 'aggregation',
    params: AIRLINE_MONTHS,
    sql: (p) =>
      `SELECT b.fare_class, COUNT(*) FROM bookings b JOIN flights f ON f.id = b.flight_id JOIN airlines a ON a.code = f.airline_code WHERE a.name = ${lit(p.name!)} AND strftime('%Y-%m', f.departs_on) = ${lit(p.month!)} GROUP BY b.fare_class`,
    phrasings: [
      (p) => `How many seats per fare class did ${p.name} sell on its ${monthName(p.month!)} flights?`,
      (p) =>
        `For ${p.name} flights departing in ${monthName(p.month!)}, count the bookings in each fare class.`,
      (p) => `Give each fare class with its number of bookings on ${p.name} in ${monthName(p.month!)}.`,
      (p) => `Break down ${p.name}'s ${monthName(p.month!)} bookings by fare class: class and count.`,
    ],
  },
  {
    id: 'cancelled-dates-of-aircraft',
    difficulty: 'hard',
    skill: 'dates-and-nulls',
    params: 'SELECT DISTINCT tail_number FROM flights WHERE cancelled = 1 ORDER BY tail_number',
    sql: (p) =>
      `SELECT departs_on, flight_number FROM flights WHERE tail_number = ${lit(p.tail_number!)} AND delay_minutes IS NULL`,
    phrasings: [
      (p) =>
        `On which dates was a flight of aircraft ${p.tail_number} cancelled? Give date and flight number.`,
      (p) => `List the cancelled flights (date, flight number) planned for the plane ${p.tail_number}.`,
      (p) => `When did ${p.tail_number} have a flight cancelled, and which flight was it?`,
      (p) => `Give date and flight number of every cancelled departure assigned to ${p.tail_number}.`,
    ],
  },
  {
    id: 'airlines-on-route',
    difficulty: 'hard',
    skill: 'multi-join',
    params: ROUTES,
    sql: (p) =>
      `SELECT DISTINCT al.name FROM flights f JOIN airlines al ON al.code = f.airline_code JOIN airports o ON o.code = f.origin JOIN airports d ON d.code = f.destination WHERE o.name = ${lit(p.origin!)} AND d.name = ${lit(p.destination!)}`,
    phrasings: [
      (p) => `Which airlines fly from ${p.origin} to ${p.destination}?`,
      (p) => `List the carriers with flights from ${p.origin} to ${p.destination}.`,
      (p) => `Name every airline that schedules ${p.origin} → ${p.destination}.`,
      (p) => `Who operates the route from ${p.origin} to ${p.destination}? Airline names.`,
    ],
  },
  {
    id: 'models-into-airport',
    difficulty: 'hard',
    skill: 'multi-join',
    params:
      'SELECT DISTINCT al.name AS airline, ap.name AS airport FROM flights f JOIN airlines al ON al.code = f.airline_code JOIN airports ap ON ap.code = f.destination ORDER BY al.code, ap.code',
    sql: (p) =>
      `SELECT DISTINCT ac.model FROM flights f JOIN airlines al ON al.code = f.airline_code JOIN aircraft ac ON ac.tail_number = f.tail_number JOIN airports ap ON ap.code = f.destination WHERE al.name = ${lit(p.airline!)} AND ap.name = ${lit(p.airport!)}`,
    phrasings: [
      (p) => `Which aircraft models has ${p.airline} flown into ${p.airport}?`,
      (p) => `List the plane types ${p.airline} scheduled on flights to ${p.airport}.`,
      (p) => `Name each aircraft model used by ${p.airline} for flights arriving at ${p.airport}.`,
      (p) => `What types of aircraft does ${p.airline} send to ${p.airport}?`,
    ],
  },
  {
    id: 'class-revenue-by-destination',
    difficulty: 'hard',
    skill: 'multi-join',
    params:
      "SELECT a.name, c.fare_class FROM airlines a, (SELECT 'business' AS fare_class UNION ALL SELECT 'first') c ORDER BY a.code, c.fare_class",
    sql: (p) =>
      `SELECT ap.name, SUM(b.price) FROM bookings b JOIN flights f ON f.id = b.flight_id JOIN airlines al ON al.code = f.airline_code JOIN airports ap ON ap.code = f.destination WHERE al.name = ${lit(p.name!)} AND b.fare_class = ${lit(p.fare_class!)} GROUP BY ap.name`,
    phrasings: [
      (p) => `How much ${p.fare_class}-class revenue did ${p.name} make per destination airport?`,
      (p) => `For ${p.name}, sum the ${p.fare_class} fares by destination airport name.`,
      (p) =>
        `Give each destination airport of ${p.name} with the total price of its ${p.fare_class} bookings.`,
      (p) => `Break down ${p.name}'s ${p.fare_class} ticket revenue by the airport flown to.`,
    ],
  },
  {
    id: 'delay-rank-of-airline',
    difficulty: 'medium',
    skill: 'window',
    params: AIRLINE_MONTHS,
    sql: (p) =>
      `SELECT r FROM (SELECT a.name, RANK() OVER (ORDER BY AVG(f.delay_minutes)) AS r FROM flights f JOIN airlines a ON a.code = f.airline_code WHERE f.cancelled = 0 AND strftime('%Y-%m', f.departs_on) = ${lit(p.month!)} GROUP BY a.code) WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) =>
        `Ranking the airlines by average delay of their operated flights in ${monthName(p.month!)} (1 = least delayed, ties share a rank), where does ${p.name} stand?`,
      (p) =>
        `What was ${p.name}'s punctuality rank in ${monthName(p.month!)}, ordering airlines by mean delay ascending?`,
      (p) =>
        `Among airlines flying in ${monthName(p.month!)}, which rank did ${p.name} get by average delay (lowest delay first, cancelled flights ignored)?`,
      (p) =>
        `Sort the airlines by their average ${monthName(p.month!)} delay, smallest first: at which rank is ${p.name}?`,
    ],
  },
  {
    id: 'days-between-flights-of-aircraft',
    difficulty: 'hard',
    skill: 'window',
    params: `SELECT tail_number, month FROM (SELECT tail_number, strftime('%Y-%m', departs_on) AS month FROM flights GROUP BY tail_number, month HAVING COUNT(*) >= 2) ORDER BY tail_number, month`,
    sql: (p) =>
      `SELECT departs_on, flight_number, julianday(departs_on) - julianday(LAG(departs_on) OVER (ORDER BY departs_on, id)) FROM flights WHERE tail_number = ${lit(p.tail_number!)} AND strftime('%Y-%m', departs_on) = ${lit(p.month!)}`,
    phrasings: [
      (p) =>
        `For aircraft ${p.tail_number} in ${monthName(p.month!)}, give each flight's date and number and the days since the plane's previous flight that month (none for the first; same day by flight id).`,
      (p) =>
        `List the ${monthName(p.month!)} flights of ${p.tail_number} (date, flight number) with the gap in days to the one before.`,
      (p) =>
        `How many days lay between consecutive ${monthName(p.month!)} flights of the plane ${p.tail_number}? Date, flight number, days (NULL for the first).`,
      (p) =>
        `Give every flight of ${p.tail_number} in ${monthName(p.month!)} with its date, number and days since its previous flight, taking flights by date then id.`,
    ],
  },
  {
    id: 'top-destination-per-airline',
    difficulty: 'hard',
    skill: 'window',
    params: 'SELECT DISTINCT o.name FROM flights f JOIN airports o ON o.code = f.origin ORDER BY f.origin',
    sql: (p) =>
      `SELECT airline_code, destination FROM (SELECT f.airline_code, f.destination, ROW_NUMBER() OVER (PARTITION BY f.airline_code ORDER BY COUNT(*) DESC, f.destination) AS rn FROM flights f JOIN airports o ON o.code = f.origin WHERE o.name = ${lit(p.name!)} GROUP BY f.airline_code, f.destination) WHERE rn = 1`,
    phrasings: [
      (p) =>
        `For each airline flying out of ${p.name}, which destination does it serve most often from there? Airline code and destination code (ties by destination code).`,
      (p) =>
        `Per airline with departures from ${p.name}, give its most frequent destination from that airport.`,
      (p) =>
        `Which destination does each carrier fly to most often from ${p.name}? Airline code, destination code; on a tie the alphabetically first destination.`,
      (p) =>
        `Name, for every airline departing ${p.name}, its top destination by number of scheduled flights.`,
    ],
  },
  {
    id: 'fares-above-flight-average',
    difficulty: 'hard',
    skill: 'window',
    params:
      'SELECT f.flight_number, f.departs_on FROM flights f JOIN bookings b ON b.flight_id = f.id GROUP BY f.id HAVING COUNT(*) >= 3 ORDER BY f.id',
    sql: (p) =>
      `SELECT passenger_name, price FROM (SELECT b.passenger_name, b.price, AVG(b.price) OVER () AS average FROM bookings b JOIN flights f ON f.id = b.flight_id WHERE f.flight_number = ${lit(p.flight_number!)} AND f.departs_on = ${lit(p.departs_on!)}) WHERE price > average`,
    phrasings: [
      (p) =>
        `On flight ${p.flight_number} of ${p.departs_on}, which passengers paid more than the flight's average fare? Name and price.`,
      (p) =>
        `List passenger and price of the ${p.flight_number} bookings on ${p.departs_on} that cost more than that flight's mean price.`,
      (p) => `Who paid above average on ${p.flight_number} departing ${p.departs_on}? Give name and fare.`,
      (p) =>
        `Name the passengers of flight ${p.flight_number} on ${p.departs_on} whose ticket price exceeds the flight's average, with the price.`,
    ],
  },
  {
    id: 'monthly-delay-change',
    difficulty: 'hard',
    skill: 'window',
    params: AIRLINES,
    sql: (p) =>
      `SELECT month, ROUND(average, 1), ROUND(average - LAG(average) OVER (ORDER BY month), 1) FROM (SELECT strftime('%Y-%m', f.departs_on) AS month, AVG(f.delay_minutes) AS average FROM flights f JOIN airlines a ON a.code = f.airline_code WHERE a.name = ${lit(p.name!)} AND f.cancelled = 0 GROUP BY month)`,
    phrasings: [
      (p) =>
        `For each month, give ${p.name}'s average delay and the change from the previous month, both in minutes rounded to 1 decimal (operated flights only).`,
      (p) =>
        `Month by month: ${p.name}'s mean departure delay and how much it rose or fell since the month before (1 decimal; cancelled flights left out).`,
      (p) =>
        `List the months with ${p.name}'s average delay and the difference to the previous month's average, rounded to one decimal.`,
      (p) =>
        `How did ${p.name}'s punctuality move? Month, average delay and its change versus the preceding month, each to 1 decimal, ignoring cancellations.`,
    ],
  },
];
