#include "ecom/synth/format.hpp"

#include <charconv>

namespace ecom::synth {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

void append_price(std::string& out, std::uint32_t cents) {
  append_uint(out, cents / 100);
  const unsigned c = cents % 100;
  const char frac[3] = {'.', static_cast<char>('0' + c / 10), static_cast<char>('0' + c % 10)};
  out.append(frac, 3);
}

void make_uuid_v4(std::uint64_t& hi, std::uint64_t& lo) {
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                  // version 4
  lo = (lo & ~(0xC000ULL << 48)) | (0x8000ULL << 48);  // variant 10xx
}

void append_uuid(std::string& out, std::uint64_t hi, std::uint64_t lo) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[36];
  int k = 0;
  auto put = [&](std::uint64_t v, int nibbles, int shift_from) {
    for (int i = 0; i < nibbles; ++i) buf[k++] = kHex[(v >> (shift_from - 4 * i)) & 0xF];
  };
  put(hi, 8, 60);
  buf[k++] = '-';
  put(hi, 4, 28);
  buf[k++] = '-';
  put(hi, 4, 12);
  buf[k++] = '-';
  put(lo, 4, 60);
  buf[k++] = '-';
  put(lo, 12, 44);
  out.append(buf, 36);
}

int dirty_variants(DirtyKind kind) {
  switch (kind) {
    case DirtyKind::field_count:
      return 3;
    case DirtyKind::bad_time:
      return 8;
    case DirtyKind::unknown_event_type:
      return 5;
    case DirtyKind::bad_user_id:
      return 4;
    case DirtyKind::bad_product_id:
      return 4;
    case DirtyKind::bad_category_id:
      return 4;
    case DirtyKind::bad_session:
      return 2;
    case DirtyKind::bad_price:
      return 6;
  }
  return 1;
}

void append_dirty_row(std::string& out, const RowFields& valid, DirtyKind kind, int variant) {
  // Field indices of the REES46 header.
  enum { kTime, kType, kProduct, kCategory, kCode, kBrand, kPrice, kUser, kSession };
  std::array<std::string, 9> f = valid.f;
  int n_fields = 9;
  bool extra_field = false;
  const std::string& t = valid.f[kTime];  // "YYYY-MM-DD hh:mm:ss UTC"
  const std::string ymd = t.substr(0, 10), y = t.substr(0, 4), m = t.substr(5, 2),
                    d = t.substr(8, 2), hms = t.substr(11, 8), ms = t.substr(13, 6);
  switch (kind) {
    case DirtyKind::field_count:
      if (variant == 0)
        n_fields = 8;  // user_session missing (a cut line)
      else if (variant == 1)
        extra_field = true;  // a tenth, empty field
      else
        n_fields = 5;  // cut after category_code
      break;
    case DirtyKind::bad_time: {
      static const char* const kBad[] = {"", "", "", "", "", "", "", "yesterday"};
      switch (variant) {
        case 0:
          f[kTime] = y + "-" + m + "-32 " + hms + " UTC";
          break;  // day 32
        case 1:
          f[kTime] = y + "-13-" + d + " " + hms + " UTC";
          break;  // month 13
        case 2:
          f[kTime] = y + "-02-30 " + hms + " UTC";
          break;  // no such date
        case 3:
          f[kTime] = ymd + " 25" + ms + " UTC";
          break;  // hour 25
        case 4:
          f[kTime] = ymd + "T" + hms + "Z";
          break;  // ISO 8601, not REES46
        case 5:
          f[kTime] = ymd + " " + hms;
          break;  // no " UTC"
        case 6:
          f[kTime] = "";
          break;  // empty
        default:
          f[kTime] = kBad[7];
          break;  // not a time
      }
      break;
    }
    case DirtyKind::unknown_event_type: {
      static const char* const kTypes[] = {"click", "wishlist", "add_to_cart", "", "VIEW"};
      f[kType] = kTypes[variant];
      break;
    }
    case DirtyKind::bad_product_id: {
      const std::string& p = valid.f[kProduct];
      const std::string v[] = {"", "abc", "-" + p, p + ".0"};
      f[kProduct] = v[variant];
      break;
    }
    case DirtyKind::bad_category_id: {
      const std::string& c = valid.f[kCategory];
      const std::string v[] = {"", "2.05E+18", "-" + c, "cat" + c};
      f[kCategory] = v[variant];
      break;
    }
    case DirtyKind::bad_price: {
      const std::string& p = valid.f[kPrice];
      std::string comma = p;
      comma[comma.find('.')] = ',';
      const std::string negative = p == "0.00" ? "-0.01" : "-" + p;  // "-0.00" would be >= 0
      const std::string v[] = {"", negative, "NaN", "inf", "abc", "\"" + comma + "\""};
      f[kPrice] = v[variant];
      break;
    }
    case DirtyKind::bad_user_id: {
      const std::string& u = valid.f[kUser];
      const std::string v[] = {"", "-" + u, u + ".5", "u" + u};
      f[kUser] = v[variant];
      break;
    }
    case DirtyKind::bad_session:
      f[kSession] = variant == 0 ? "" : "\"\"";
      break;
  }
  for (int i = 0; i < n_fields; ++i) {
    if (i) out += ',';
    out += f[static_cast<std::size_t>(i)];
  }
  if (extra_field) out += ',';
  out += '\n';
}

}  // namespace ecom::synth
