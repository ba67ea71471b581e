#include "lambent/sam/schedule.hpp"

#include <fmt/format.h>

#include <charconv>
#include <sstream>
#include <vector>

namespace lambent::sam {

namespace {

using namespace std::chrono;

error invalid(const std::string& expr, const std::string& why) {
    return make_error(errc::validation, fmt::format("invalid schedule expression {}: {}", expr, why));
}

std::optional<int> number(const std::string& s) {
    int v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

int name_value(std::string s, int field) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    static const char* months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    static const char* days[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
    if (field == 3) {
        for (int i = 0; i < 12; ++i) if (s == months[i]) return i + 1;
    }
    if (field == 4) {
        for (int i = 0; i < 7; ++i) if (s == days[i]) return i + 1;
    }
    return number(s).value_or(-1);
}

/// One field's list of `*`, `a`, `a-b`, `a/n`, `a-b/n`, `*/n` items.
bool parse_field(const std::string& text, int field, int lo, int hi, std::set<int>& out) {
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        int step = 1;
        if (const auto slash = item.find('/'); slash != std::string::npos) {
            auto s = number(item.substr(slash + 1));
            if (!s || *s <= 0) return false;
            step = *s;
            item = item.substr(0, slash);
        }
        int a = lo, b = hi;
        if (item == "*") {
        } else if (const auto dash = item.find('-'); dash != std::string::npos) {
            a = name_value(item.substr(0, dash), field);
            b = name_value(item.substr(dash + 1), field);
        } else {
            a = name_value(item, field);
            if (step == 1) b = a;
        }
        if (a < lo || a > hi || b < lo || b > hi) return false;
        if (a <= b) {
            for (int v = a; v <= b; v += step) out.insert(v);
        } else {  // a wrapping range such as FRI-MON
            for (int v = a, n = 0; n <= (hi - a) + (b - lo) + 1; v = v == hi ? lo : v + 1, ++n) {
                if (n % step == 0) out.insert(v);
                if (v == b) break;
            }
        }
    }
    return !out.empty();
}

}  // namespace

result<schedule> parse_schedule(const std::string& expression) {
    schedule s;
    s.expression = expression;
    if (expression.starts_with("rate(") && expression.ends_with(")")) {
        std::stringstream in(expression.substr(5, expression.size() - 6));
        std::string value, unit, extra;
        in >> value >> unit >> extra;
        auto v = number(value);
        if (!v || *v <= 0 || !extra.empty()) return invalid(expression, "expected rate(VALUE UNIT) with a positive integer");
        const bool one = *v == 1;
        int per = 0;
        if (unit == (one ? "minute" : "minutes")) per = 1;
        else if (unit == (one ? "hour" : "hours")) per = 60;
        else if (unit == (one ? "day" : "days")) per = 1440;
        else return invalid(expression, one ? "the unit of 1 is minute, hour or day" : "the unit is minutes, hours or days");
        s.rate = minutes(static_cast<long long>(*v) * per);
        return s;
    }
    if (!(expression.starts_with("cron(") && expression.ends_with(")"))) {
        return invalid(expression, "expected rate(...) or cron(...)");
    }
    std::stringstream in(expression.substr(5, expression.size() - 6));
    std::vector<std::string> f;
    for (std::string x; in >> x;) f.push_back(x);
    if (f.size() != 6) return invalid(expression, "cron needs 6 fields: minutes hours day-of-month month day-of-week year");
    if (!parse_field(f[0], 0, 0, 59, s.minutes)) return invalid(expression, "bad minutes field");
    if (!parse_field(f[1], 1, 0, 23, s.hours)) return invalid(expression, "bad hours field");
    if (!parse_field(f[3], 3, 1, 12, s.months)) return invalid(expression, "bad month field");
    if (!parse_field(f[5], 5, 1970, 2199, s.years)) return invalid(expression, "bad year field");
    s.dom_any = f[2] == "?";
    s.dow_any = f[4] == "?";
    if (s.dom_any == s.dow_any) return invalid(expression, "exactly one of day-of-month and day-of-week must be ?");
    if (!s.dom_any) {
        if (f[2] == "L") {
            s.last_day_of_month = true;
        } else if (f[2].ends_with("W")) {
            auto d = number(f[2].substr(0, f[2].size() - 1));
            if (!d || *d < 1 || *d > 31) return invalid(expression, "bad day-of-month field");
            s.nearest_weekday = *d;
        } else if (!parse_field(f[2], 2, 1, 31, s.days_of_month)) {
            return invalid(expression, "bad day-of-month field");
        }
    }
    if (!s.dow_any) {
        if (const auto hash = f[4].find('#'); hash != std::string::npos) {
            const int d = name_value(f[4].substr(0, hash), 4);
            auto n = number(f[4].substr(hash + 1));
            if (d < 1 || d > 7 || !n || *n < 1 || *n > 5) return invalid(expression, "bad day-of-week field");
            s.nth_weekday = d;
            s.nth = *n;
        } else if (f[4].size() > 1 && f[4].ends_with("L")) {
            const int d = name_value(f[4].substr(0, f[4].size() - 1), 4);
            if (d < 1 || d > 7) return invalid(expression, "bad day-of-week field");
            s.last_weekday_of_month = d;
        } else if (f[4] == "L") {
            s.last_weekday_of_month = 7;  // L alone: the last Saturday
        } else if (!parse_field(f[4], 4, 1, 7, s.days_of_week)) {
            return invalid(expression, "bad day-of-week field");
        }
    }
    return s;
}

namespace {

bool day_matches(const schedule& s, const year_month_day& ymd) {
    const unsigned day = static_cast<unsigned>(ymd.day());
    const unsigned last = static_cast<unsigned>(year_month_day_last(ymd.year(), month_day_last(ymd.month())).day());
    const int dow = static_cast<int>(weekday(sys_days(ymd)).c_encoding()) + 1;  // 1 = Sunday
    if (!s.dom_any) {
        if (s.last_day_of_month) return day == last;
        if (s.nearest_weekday != 0) {
            // The weekday nearest to the given day, within the month.
            unsigned target = std::min<unsigned>(static_cast<unsigned>(s.nearest_weekday), last);
            const auto t = year_month_day(ymd.year(), ymd.month(), std::chrono::day(target));
            const int tw = static_cast<int>(weekday(sys_days(t)).c_encoding());
            if (tw == 6) target = target == 1 ? 3 : target - 1;        // Saturday → Friday (or Monday the 3rd)
            else if (tw == 0) target = target == last ? target - 2 : target + 1;  // Sunday → Monday (or Friday)
            return day == target;
        }
        return s.days_of_month.count(static_cast<int>(day)) != 0;
    }
    if (s.nth != 0) return dow == s.nth_weekday && (day - 1) / 7 + 1 == static_cast<unsigned>(s.nth);
    if (s.last_weekday_of_month != 0) return dow == s.last_weekday_of_month && day + 7 > last;
    return s.days_of_week.count(dow) != 0;
}

}  // namespace

std::optional<sys_seconds> next_fire(const schedule& s, sys_seconds after) {
    if (s.rate) return after + duration_cast<seconds>(*s.rate);
    const auto start = floor<minutes>(after) + minutes(1);
    auto day = floor<days>(start);
    for (int i = 0; i < 366 * 230; ++i, day += days(1)) {
        const year_month_day ymd(day);
        const int y = static_cast<int>(ymd.year());
        if (y > 2199) return std::nullopt;
        if (s.years.count(y) == 0) {
            if (y > *s.years.rbegin()) return std::nullopt;
            continue;
        }
        if (s.months.count(static_cast<int>(static_cast<unsigned>(ymd.month()))) == 0 || !day_matches(s, ymd)) continue;
        for (int h : s.hours) {
            for (int m : s.minutes) {
                const auto t = day + hours(h) + minutes(m);
                if (t >= start) return sys_seconds(t);
            }
        }
    }
    return std::nullopt;
}

}  // namespace lambent::sam
